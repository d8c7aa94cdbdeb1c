{#- Secondary suppression passes over the unit hierarchy (hospital -> hf -> rhf -> nation),
    within one indicator, context and year (no model publishes totals over years, so years
    cannot be differenced). Invariants after all passes, checked by a singular test:
      * a shown parent never has exactly one hidden child (else child = parent - siblings);
      * a hidden parent never has only shown children (else parent = sum of children).
    `asc` enforces the first for one level pair, hiding the smallest shown sibling, or the
    parent when the hidden cell is its only child; `desc` enforces the second, hiding the
    smallest child of a hidden parent. -#}
{% macro kvalreg_suppress_pass(name, prev, child_level, parent_level, direction) %}
{{ name }}_groups as (
    select ind_id, context, year, parent_orgnr,
        count(*) filter (where hidden) as n_hidden,
        count(*) as n_children
    from {{ prev }}
    where unit_level = '{{ child_level }}'
    group by all
),
{{ name }}_need as (
    select g.*
    from {{ name }}_groups as g
    inner join {{ prev }} as p
        on p.unit_level = '{{ parent_level }}' and p.orgnr = g.parent_orgnr
        and p.ind_id = g.ind_id and p.context = g.context and p.year = g.year
    {%- if direction == 'asc' %}
    where g.n_hidden = 1 and not p.hidden
    {%- else %}
    where g.n_hidden = 0 and p.hidden
    {%- endif %}
),
{{ name }}_hide as (
    select c.ind_id, c.context, c.year, c.unit_level, c.orgnr
    from {{ prev }} as c
    inner join {{ name }}_need as n
        on c.unit_level = '{{ child_level }}' and c.parent_orgnr = n.parent_orgnr
        and c.ind_id = n.ind_id and c.context = n.context and c.year = n.year
    where not c.hidden
    qualify row_number() over (
        partition by n.ind_id, n.context, n.year, n.parent_orgnr
        order by c.denominator, c.orgnr
    ) = 1
    {%- if direction == 'asc' %}
    union all
    select ind_id, context, year, '{{ parent_level }}', parent_orgnr
    from {{ name }}_need
    where n_children = 1
    {%- endif %}
),
{{ name }} as (
    select
        p.* replace (
            p.hidden or h.orgnr is not null as hidden,
            case when p.hidden then p.reason when h.orgnr is not null then 'secondary' end
                as reason
        )
    from {{ prev }} as p
    left join {{ name }}_hide as h
        on h.ind_id = p.ind_id and h.context = p.context and h.year = p.year
        and h.unit_level = p.unit_level and h.orgnr = p.orgnr
)
{% endmacro %}
