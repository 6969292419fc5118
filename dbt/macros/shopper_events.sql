{#- The staged events with person_id replaced by the shopper a merged person belongs to (int_people_merged): a
    shopper seen on two phones is one person in every model that counts people. Everything else is as staged. -#}
{% macro shopper_events() -%}
    select events.* replace (coalesce(merged.shopper_id, events.person_id) as person_id)
    from {{ ref('stg_lake__events') }} as events
    left join {{ ref('int_people_merged') }} as merged using (person_id)
{%- endmacro %}

{#- The shoppers an incremental per-shopper model recomputes in this run: those the run staged events for, and every
    merged shopper (a merge can hand a person's earlier events to another shopper). -#}
{% macro shoppers_staged_this_run() -%}
    select person_id from ({{ shopper_events() }}) where staged_at = timestamptz '{{ run_started_at }}'
    union
    select shopper_id from {{ ref('int_people_merged') }}
{%- endmacro %}
