{#- Every reporting unit per level with its parent: hospital -> hf -> rhf -> nation. The
    imongr upload may only name these orgnr, and suppression walks this hierarchy. -#}
with u as (select * from {{ ref('dim_unit') }})

select distinct 'hospital' as unit_level, hospital_orgnr as orgnr, hospital as unit_name,
    hf_orgnr as parent_orgnr
from u
union all
select distinct 'hf', hf_orgnr, hf, rhf_orgnr from u
union all
select distinct 'rhf', rhf_orgnr, rhf, '{{ var("nation_orgnr") }}' from u
union all
select 'nation', '{{ var("nation_orgnr") }}', 'Norge', null
