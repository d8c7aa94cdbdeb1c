{#- Secondary suppression invariants (macros/kvalreg_suppression.sql): a shown parent never
    has exactly one hidden child, and a hidden parent never has only shown children. Either
    would let a hidden value be recomputed from published totals. -#}
with s as (select * from {{ ref('int_indicator_suppression') }}),

groups as (
    select ind_id, context, year, unit_level, parent_orgnr,
        count(*) filter (where suppressed) as n_hidden
    from s
    where parent_orgnr is not null
    group by all
)

select g.*, p.suppressed as parent_suppressed
from groups as g
inner join s as p
    on p.orgnr = g.parent_orgnr and p.ind_id = g.ind_id and p.context = g.context
    and p.year = g.year
    and p.unit_level = case g.unit_level
        when 'hospital' then 'hf' when 'hf' then 'rhf' when 'rhf' then 'nation' end
where (not p.suppressed and g.n_hidden = 1) or (p.suppressed and g.n_hidden = 0)
