{#- Layers get plain schema names (staging, intermediate); marts stay in the default schema, `main`,
    where the dashboards read them. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name is not none else target.schema }}
{%- endmacro %}
