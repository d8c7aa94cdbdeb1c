{#- Dekningsgrad per registry, treating unit (RESH as written) and year: a = registry only,
    b = both, c = NPR only; DG_registry = (a+b)/(a+b+c), DG_NPR = (b+c)/(a+b+c). Stage 3
    needs DG > 0.6, stage 4 > 0.8. RESH ids unknown to the unit dimension keep their row
    (hospital columns null): coverage must not hide a wrongly coded unit. -#}
with counts as (
    select
        registry,
        unit_resh,
        year,
        count(*) filter (where side = 'a') as a,
        count(*) filter (where side = 'b') as b,
        count(*) filter (where side = 'c') as c
    from {{ ref('int_coverage_links') }}
    group by registry, unit_resh, year
)

select
    counts.registry,
    counts.unit_resh,
    counts.year,
    u.hospital_orgnr,
    u.hospital,
    u.hf_orgnr,
    u.rhf_orgnr,
    cast(counts.a as bigint) as a,
    cast(counts.b as bigint) as b,
    cast(counts.c as bigint) as c,
    (counts.a + counts.b) / (counts.a + counts.b + counts.c) as dg_registry,
    (counts.b + counts.c) / (counts.a + counts.b + counts.c) as dg_npr
from counts
left join {{ ref('dim_unit') }} as u on u.unit_resh = counts.unit_resh
