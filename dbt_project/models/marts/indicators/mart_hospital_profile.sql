{#- One hospital's page: every indicator per year at hospital level (caregiver), beside its
    HF and the nation for comparison, with the hospital's coverage (DG) per registry. -#}
with h as (
    select * from {{ ref('mart_indicators') }}
    where unit_level = 'hospital' and context = 'caregiver'
),

org as (
    select h.orgnr as hospital_orgnr, h.unit_name as hospital, hf.orgnr as hf_orgnr,
        hf.unit_name as hf
    from {{ ref('dim_org') }} as h
    inner join {{ ref('dim_org') }} as hf on hf.orgnr = h.parent_orgnr and hf.unit_level = 'hf'
    where h.unit_level = 'hospital'
),

hf_values as (
    select ind_id, year, orgnr, value from {{ ref('mart_indicators') }}
    where unit_level = 'hf' and context = 'caregiver'
),

nation_values as (
    select ind_id, year, value from {{ ref('mart_indicators') }}
    where unit_level = 'nation' and context = 'caregiver'
)

select
    org.hospital_orgnr,
    org.hospital,
    org.hf_orgnr,
    org.hf,
    h.registry,
    h.ind_id,
    h.title,
    h.type,
    h.year,
    h.numerator,
    h.denominator,
    h.value,
    h.ci_lower,
    h.ci_upper,
    h.level,
    h.dg,
    h.flag_low_n,
    h.flag_low_dg,
    h.suppressed,
    hf_values.value as hf_value,
    nation_values.value as nation_value
from h
inner join org on org.hospital_orgnr = h.orgnr
left join hf_values on hf_values.ind_id = h.ind_id and hf_values.year = h.year
    and hf_values.orgnr = org.hf_orgnr
left join nation_values on nation_values.ind_id = h.ind_id and nation_values.year = h.year
