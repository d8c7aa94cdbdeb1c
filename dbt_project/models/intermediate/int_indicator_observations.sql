{#- One row per indicator and episode in its population (nkbcind-style): the definition's
    `population` filters the registry's episodes, `outcome` gives the numerator flag
    (proportions) or the value (median, mean), `unit` the attributed RESH and `period` the
    year. Generated from the definitions at compile time: a new indicator is a new entry in
    indicators.yaml, never a new model. -#}
{%- set branches = [] -%}
{%- for registry in var('registries') -%}
    {%- set episodes = ref('int_' ~ registry ~ '__episodes') -%}
    {%- if execute -%}
    {%- for ind in kvalreg_indicators([registry]) if ind.type != 'dg_andel' -%}
        {%- set proportion = ind.type in ['andel', 'beregnet_andel'] -%}
        {%- set sql -%}
    select
        '{{ ind.id }}' as ind_id,
        registry,
        episode_id,
        cast({{ ind.unit }} as varchar) as unit_resh,
        cast(year({{ ind.period }}) as integer) as year,
        home_municipality,
        {%- if proportion %}
        coalesce(cast(({{ ind.outcome }}) as boolean), false) as hit,
        cast(null as double) as value
        {%- else %}
        cast(null as boolean) as hit,
        cast(({{ ind.outcome }}) as double) as value
        {%- endif %}
    from {{ episodes }}
    where ({{ ind.population }})
        and {{ ind.period }} is not null
        {%- if not proportion %}
        and ({{ ind.outcome }}) is not null
        {%- endif %}
        {%- endset -%}
        {%- do branches.append(sql) -%}
    {%- endfor -%}
    {%- endif -%}
{%- endfor %}
{%- if branches %}
{{ branches | join('\nunion all\n') }}
{%- else %}
select null::varchar as ind_id, null::varchar as registry, null::bigint as episode_id,
    null::varchar as unit_resh, null::integer as year, null::varchar as home_municipality,
    null::boolean as hit, null::double as value
where false
{%- endif %}
