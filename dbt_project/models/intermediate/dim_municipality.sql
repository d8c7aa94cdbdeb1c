{#- Municipality -> catchment HF and RHF, with the organisation numbers the unit dimension
    gives those HFs (the municipalities file names them; orgnr lives in units.csv only). -#}
with hf as (
    select distinct hf, hf_orgnr, rhf, rhf_orgnr from {{ ref('dim_unit') }}
)

select
    m.kommunenummer,
    m.kommune,
    m.hf,
    hf.hf_orgnr,
    m.rhf,
    hf.rhf_orgnr
from {{ ref('stg_reference__municipalities') }} as m
left join hf on hf.hf = m.hf and hf.rhf = m.rhf
