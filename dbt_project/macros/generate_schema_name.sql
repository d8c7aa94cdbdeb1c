{#- Schemas are the layer names (staging, intermediate, marts, reference), not
    `<target schema>_<layer>`: the warehouse is shared with ingestion's raw_/meta/dq schemas
    and readers look for marts in `marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
