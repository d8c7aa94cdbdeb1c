{#- Access to the generated sources file (models/sources/_sources.generated.yml): registry
    facts (keys, form roles, deadline, indicator definitions) travel from the registry folder
    to SQL through the sources' meta, so models never hard-code them. Only valid while
    `execute` is true (the graph is empty at parse time). -#}

{% macro kvalreg_source_node(source_name, table_name) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and node.name == table_name -%}
            {{- return(node) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error("no source " ~ source_name ~ "." ~ table_name) -}}
{%- endmacro %}

{#- The source tables of one source (e.g. every form of `raw_<registry>`), in graph order. -#}
{% macro kvalreg_source_nodes(source_name) -%}
    {%- set out = [] -%}
    {%- for node in graph.sources.values() if node.source_name == source_name -%}
        {%- do out.append(node) -%}
    {%- endfor -%}
    {{- return(out) -}}
{%- endmacro %}

{% macro kvalreg_registry_meta(registry) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == 'raw_' ~ registry -%}
            {{- return(node.source_meta.kvalreg) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error("no source raw_" ~ registry) -}}
{%- endmacro %}

{#- Every indicator definition of the given registries (all of var('registries') by default). -#}
{% macro kvalreg_indicators(registries=none) -%}
    {%- set out = [] -%}
    {%- for registry in (registries or var('registries')) -%}
        {%- for ind in kvalreg_registry_meta(registry).get('indicators', []) -%}
            {%- do out.append(ind) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(out) -}}
{%- endmacro %}

{#- The relation if it exists, else a typed empty select with the declared columns: a registry
    whose first dump has not arrived yet must not stop the other registries' marts. In a unit
    test the source is the test's fixture (a CTE), which is used as given. -#}
{% macro kvalreg_source_or_empty(source_name, table_name) -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- if execute and model.resource_type != 'unit_test' and load_relation(rel) is none -%}
        {%- set node = kvalreg_source_node(source_name, table_name) -%}
        (select
        {%- for col in node.columns.values() %}
            cast(null as {{ col.data_type }}) as {{ adapter.quote(col.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- else -%}
        {{ rel }}
    {%- endif -%}
{%- endmacro %}

{% macro kvalreg_sql_string(text) -%}
    '{{ text | string | replace("'", "''") }}'
{%- endmacro %}
