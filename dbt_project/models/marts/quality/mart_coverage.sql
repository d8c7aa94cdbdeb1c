{#- Dekningsgrad per registry, treating unit (RESH as written) and year: a = registry only,
    b = both, c = NPR only; DG_registry = (a+b)/(a+b+c), DG_NPR = (b+c)/(a+b+c). Stage 3
    needs DG > 0.6, stage 4 > 0.8. RESH ids unknown to the unit dimension keep their row
    (hospital columns null): coverage must not hide a wrongly coded unit.
    Where NPR has sent its own coverage result for a registry and year
    (stg_npr__dekningsgrad), its counts replace the platform's computation for that whole
    registry-year (`source` = 'npr'); otherwise they come from the NPR activity extract
    (`source` = 'platform'). -#}
with computed as (
    select
        registry,
        unit_resh,
        year,
        count(*) filter (where side = 'a') as a,
        count(*) filter (where side = 'b') as b,
        count(*) filter (where side = 'c') as c
    from {{ ref('int_coverage_links') }}
    group by registry, unit_resh, year
),

npr_result as (
    select
        "Register" as registry,
        unit_resh,
        cast("Aar" as bigint) as year,
        sum("KunRegister") as a,
        sum("Begge") as b,
        sum("KunNPR") as c
    from {{ ref('stg_npr__dekningsgrad') }}
    where "Register" in (
        {%- for registry in var('registries') -%}
        {{ kvalreg_sql_string(registry) }}{{ ", " if not loop.last }}
        {%- endfor -%}
    )
    group by all
    having sum("KunRegister" + "Begge" + "KunNPR") > 0
),

counts as (
    select registry, unit_resh, year, a, b, c, 'npr' as source
    from npr_result
    union all
    select registry, unit_resh, year, a, b, c, 'platform' as source
    from computed
    where not exists (
        select 1 from npr_result as n
        where n.registry = computed.registry and n.year = computed.year
    )
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
    (counts.b + counts.c) / (counts.a + counts.b + counts.c) as dg_npr,
    counts.source
from counts
left join {{ ref('dim_unit') }} as u on u.unit_resh = counts.unit_resh
