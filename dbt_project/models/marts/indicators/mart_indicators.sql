{#- The published indicator results (imongr's aggregated rows, domain §5): one row per
    indicator x context x unit level x orgnr x year, with Wilson 95 % CI for proportions,
    the H/M/L level by the indicator's direction, the coverage (dg) of the linked dg_andel
    indicator and display flags. Suppressed cells keep their key and flags but no numbers,
    since this mart is exported as Parquet. -#}
{%- set z95 = 1.959963984540054 %}  {#- qnorm(0.975), as rapwhale's Wilson interval -#}
with cells as (
    select c.*, s.suppressed, s.suppression_reason
    from {{ ref('int_indicator_cells') }} as c
    inner join {{ ref('int_indicator_suppression') }} as s
        using (ind_id, context, unit_level, orgnr, year)
),

scored as (
    select
        c.*,
        d.registry_id as registry,
        d.type,
        d.title,
        d.level_direction,
        d.level_green,
        d.level_yellow,
        coalesce(d.min_denominator, {{ var('min_cell_size') }}) as min_denominator,
        d.dg_id,
        d.type in ('andel', 'beregnet_andel', 'dg_andel') as is_proportion,
        o.unit_name,
        dg.value as dg
    from cells as c
    inner join {{ ref('mart_indicator_definitions') }} as d on d.id = c.ind_id
    left join {{ ref('dim_org') }} as o on o.unit_level = c.unit_level and o.orgnr = c.orgnr
    left join {{ ref('int_indicator_cells') }} as dg
        on dg.ind_id = d.dg_id and dg.context = 'caregiver' and c.context = 'caregiver'
        and dg.unit_level = c.unit_level and dg.orgnr = c.orgnr and dg.year = c.year
),

wilson as (
    select
        *,
        case when is_proportion then
            (value + {{ z95 }}^2 / (2 * denominator)) / (1 + {{ z95 }}^2 / denominator)
        end as w_center,
        case when is_proportion then
            {{ z95 }} * sqrt(value * (1 - value) / denominator
                + {{ z95 }}^2 / (4 * denominator^2)) / (1 + {{ z95 }}^2 / denominator)
        end as w_half
    from scored
)

select
    ind_id,
    registry,
    type,
    title,
    context,
    unit_level,
    orgnr,
    unit_name,
    year,
    case when not suppressed then numerator end as numerator,
    case when not suppressed then denominator end as denominator,
    case when not suppressed then value end as value,
    case when not suppressed then (case when is_proportion then numerator else value end) end
        as var,
    case when is_proportion and not suppressed then greatest(0.0, w_center - w_half) end
        as ci_lower,
    case when is_proportion and not suppressed then least(1.0, w_center + w_half) end
        as ci_upper,
    case
        when suppressed or value is null or level_green is null or level_yellow is null
            then null
        when level_direction = 1 then
            case when value >= level_green then 'H' when value < level_yellow then 'L' else 'M' end
        else
            case when value <= level_green then 'H' when value > level_yellow then 'L' else 'M' end
    end as level,
    case when not suppressed then dg end as dg,
    min_denominator,
    denominator < min_denominator as flag_low_n,
    coalesce(dg < 0.6, false) as flag_low_dg,
    suppressed,
    suppression_reason
from wilson
