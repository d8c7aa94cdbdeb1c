{#- Funnel-plot data (Spiegelhalter 2005) per proportion indicator and year, hospitals in the
    caregiver context: target = the pooled national proportion, control limits
    target ± z·sqrt(target·(1 − target)/n) for z = 1.96 (95 %) and 3.09 (99.8 %), clipped
    to [0, 1]. Suppressed hospitals are left out: their limits would reveal n. -#}
{%- set z95 = 1.959963984540054 %}   {#- qnorm(0.975) -#}
{%- set z998 = 3.090232306167813 %}  {#- qnorm(0.999) -#}
with target as (
    select ind_id, year, value as target
    from {{ ref('mart_indicators') }}
    where unit_level = 'nation' and context = 'caregiver' and not suppressed
),

points as (
    select i.ind_id, i.year, i.orgnr, i.unit_name, i.numerator, i.denominator, i.value,
        t.target,
        sqrt(t.target * (1 - t.target) / i.denominator) as se
    from {{ ref('mart_indicators') }} as i
    inner join target as t using (ind_id, year)
    where i.unit_level = 'hospital' and i.context = 'caregiver' and not i.suppressed
        and i.type in ('andel', 'beregnet_andel')
)

select
    ind_id,
    year,
    orgnr,
    unit_name,
    numerator,
    denominator,
    value,
    target,
    greatest(0.0, target - {{ z95 }} * se) as lower_95,
    least(1.0, target + {{ z95 }} * se) as upper_95,
    greatest(0.0, target - {{ z998 }} * se) as lower_998,
    least(1.0, target + {{ z998 }} * se) as upper_998,
    case
        when value < target - {{ z998 }} * se or value > target + {{ z998 }} * se then '99.8'
        when value < target - {{ z95 }} * se or value > target + {{ z95 }} * se then '95'
    end as outside_limit
from points
