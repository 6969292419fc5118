{#- The staged events with person_id replaced by the shopper a merged person belongs to (int_people_merged): a
    shopper seen on two phones is one person in every model that counts people. Everything else is as staged. -#}
{% macro shopper_events() -%}
    select events.* replace (coalesce(merged.shopper_id, events.person_id) as person_id)
    from {{ ref('stg_lake__events') }} as events
    left join {{ ref('int_people_merged') }} as merged using (person_id)
{%- endmacro %}
