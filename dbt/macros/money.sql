{#- Money is integer fen everywhere. Segment's e-commerce spec sends yuan (19.99); convert once, in staging.
    round() before the cast: 19.99 * 100 is 1998.9999999999998 in floating point. -#}
{% macro yuan_to_fen(yuan) -%}
    round({{ yuan }} * 100)::bigint
{%- endmacro %}

{#- Yuan for display only (dashboards, CSV exports); never sum or compare these. The cast to two decimals
    rounds away the floating-point noise of the division, so gmv_yuan * 100 = gmv_fen exactly. -#}
{% macro fen_to_yuan(fen) -%}
    cast(({{ fen }}) / 100 as decimal(18, 2))
{%- endmacro %}
