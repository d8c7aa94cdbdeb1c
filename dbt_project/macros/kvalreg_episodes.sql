{#- int_<registry>__episodes: one row per episode of the base form, with every follow-up
    form joined on the episode id. Follow-up columns are prefixed with the form name
    (`oppfolging_unit_resh`, `oppfolging_Reoperert` ...) so indicator definitions can name
    either side unambiguously; `has_<form>` says whether the follow-up exists. If a follow-up
    was registered twice for one episode, the latest registration counts. -#}
{% macro kvalreg_episodes(registry, base, followups=[]) %}
{%- set base_rel = ref('stg_' ~ registry ~ '__' ~ base) -%}
{%- set fu_rels = {} -%}
{%- for f in followups -%}
    {%- do fu_rels.update({f: ref('stg_' ~ registry ~ '__' ~ f)}) -%}
{%- endfor -%}
{%- set shared = ['episode_id', 'patient_id', 'person_key'] -%}
{%- if execute -%}
    {%- set municipality = kvalreg_registry_meta(registry).get('resident_municipality') -%}
{%- endif -%}
select
    {{ kvalreg_sql_string(registry) }} as registry,
    b.*,
    {% if execute and municipality -%}
    cast(b.{{ adapter.quote(municipality) }} as varchar) as home_municipality
    {%- else -%}
    cast(null as varchar) as home_municipality
    {%- endif %}
{%- for f, rel in fu_rels.items() %}
    , {{ f }}.episode_id is not null as {{ adapter.quote('has_' ~ f) }}
    {%- if execute %}
    {%- for col in adapter.get_columns_in_relation(rel) if col.name not in shared %}
    , {{ f }}.{{ adapter.quote(col.name) }} as {{ adapter.quote(f ~ '_' ~ col.name) }}
    {%- endfor %}
    {%- endif %}
{%- endfor %}
from {{ base_rel }} as b
{%- for f, rel in fu_rels.items() %}
left join (
    select *
    from {{ rel }}
    qualify row_number() over (
        partition by episode_id order by registered_at desc nulls last, source_row desc
    ) = 1
) as {{ f }}
    on {{ f }}.episode_id = b.episode_id
{%- endfor %}
{% endmacro %}
