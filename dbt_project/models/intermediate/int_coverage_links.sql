{#- Dekningsgrad links (domain §6): registry and NPR linked on person, treating unit (RESH as
    written) and event date. Registry side: completed base forms (form_status = 1) of each
    registry; NPR side: that registry's NPR extract. Distinct keys, so a re-sent row or a
    second NPR contact for the same key counts once. `side`: a = registry only, b = both,
    c = NPR only. -#}
{%- for registry in var('registries') %}
{%- if not loop.first %}
union all
{%- endif %}
select
    '{{ registry }}' as registry,
    coalesce(r.unit_resh, n.unit_resh) as unit_resh,
    coalesce(r.event_date, n.event_date) as event_date,
    year(coalesce(r.event_date, n.event_date)) as year,
    case
        when n.person_key is null then 'a'
        when r.person_key is null then 'c'
        else 'b'
    end as side
from (
    select distinct person_key, unit_resh, event_date
    from {{ ref('int_' ~ registry ~ '__episodes') }}
    where form_status = 1
) as r
full outer join (
    select distinct person_key, unit_resh, event_date
    from {{ ref('stg_npr__aktivitet') }}
    where "Register" = '{{ registry }}'
) as n
    on n.person_key = r.person_key
    and n.unit_resh = r.unit_resh
    and n.event_date = r.event_date
{%- endfor %}
