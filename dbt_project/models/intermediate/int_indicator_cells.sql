{#- Indicator x context x unit level x orgnr x year, before suppression: numerator,
    denominator and the value (share, median or mean over the cell's episodes, never an
    average of lower-level values). Coverage indicators (type dg_andel) are cells too,
    caregiver only: numerator a+b, denominator a+b+c from the NPR comparison. Episodes of a
    RESH or municipality unknown to the reference data count at the nation level only. -#}
with obs as (
    select
        o.*,
        u.hospital_orgnr,
        u.hf_orgnr,
        u.rhf_orgnr,
        m.hf_orgnr as res_hf_orgnr,
        m.rhf_orgnr as res_rhf_orgnr
    from {{ ref('int_indicator_observations') }} as o
    left join {{ ref('dim_unit') }} as u on u.unit_resh = o.unit_resh
    left join {{ ref('dim_municipality') }} as m on m.kommunenummer = o.home_municipality
),

defs as (
    select id, registry_id, type from {{ ref('mart_indicator_definitions') }}
),

coverage as (
    select d.id as ind_id, c.*
    from {{ ref('mart_coverage') }} as c
    inner join defs as d on d.registry_id = c.registry and d.type = 'dg_andel'
),

cells as (
{%- for context, level, orgnr in kvalreg_levels() %}
    select
        ind_id,
        '{{ context }}' as context,
        '{{ level }}' as unit_level,
        {{ orgnr }} as orgnr,
        year,
        count(*) filter (where hit) as numerator,
        count(*) as denominator,
        median(value) as median_value,
        avg(value) as mean_value
    from obs
    where {{ orgnr }} is not null
    group by all
    union all
{%- endfor %}
{%- for context, level, orgnr in kvalreg_levels() if context == 'caregiver' %}
    select
        ind_id,
        '{{ context }}',
        '{{ level }}',
        {{ orgnr }},
        year,
        sum(a + b),
        sum(a + b + c),
        null,
        null
    from coverage
    where {{ orgnr }} is not null
    group by all
    {{ "union all" if not loop.last }}
{%- endfor %}
)

select
    cells.ind_id,
    cells.context,
    cells.unit_level,
    cells.orgnr,
    cast(cells.year as integer) as year,
    cast(cells.numerator as bigint) as numerator,
    cast(cells.denominator as bigint) as denominator,
    case
        when defs.type in ('andel', 'beregnet_andel', 'dg_andel')
            then cells.numerator / cells.denominator
        when defs.type = 'median' then cells.median_value
        when defs.type = 'gjennomsnitt' then cells.mean_value
        when defs.type = 'antall' then cells.denominator
    end as value
from cells
inner join defs on defs.id = cells.ind_id
