-- Which shopper each merged person is. The collector's identity graph maps every anonymousId and userId to one
-- person and never moves a mapping (ingestion/collector/identity.py): an identify or alias whose ids already
-- belong to two different people (the same shopper on a second phone) is keyed by the userId's person and
-- recorded as a merge, while the other device's events keep its own person id. The lake holds what is needed to
-- see those merges: the person an id maps to is the person of the events that carry it without linking
-- anything (their key is the id's person), and a linking event's own person is the person its ids are joined to.
-- People linked directly or through a chain are one shopper, keyed by the person the links point to (the
-- userId's person), else the earliest seen. One row per person whose shopper is someone else.

with recursive

events as not materialized (

    select * from {{ ref('stg_lake__events') }}

),

links as (

    -- Every id a linking event carries, with the person the event was keyed to.
    select person_id, identity
    from (
        select
            person_id,
            unnest(['a:' || anonymous_id, 'u:' || user_id, 'a:' || previous_id, 'u:' || previous_id]) as identity
        from events
        where call_type in ('identify', 'alias')
    )
    where identity is not null

),

id_people as (

    -- The person each linked id maps to, from the events that carry it without linking: anonymousId first, as
    -- the collector looks it up first. Only ids some link carries are looked up (a few among millions of events).
    select distinct identity, person_id
    from (
        select
            case when anonymous_id is not null then 'a:' || anonymous_id else 'u:' || user_id end as identity,
            person_id
        from events
        where call_type not in ('identify', 'alias')
            and (anonymous_id in (select substr(identity, 3) from links where identity like 'a:%')
                or (anonymous_id is null
                    and user_id in (select substr(identity, 3) from links where identity like 'u:%')))
    )

),

edges as (

    select distinct links.person_id as target_person_id, id_people.person_id as linked_person_id
    from links
    inner join id_people using (identity)
    where id_people.person_id != links.person_id

),

undirected as (

    select target_person_id as person_id, linked_person_id as other_person_id from edges
    union
    select linked_person_id, target_person_id from edges

),

reachable (person_id, member_person_id) as (

    select distinct person_id, person_id from undirected
    union
    select reachable.person_id, undirected.other_person_id
    from reachable
    inner join undirected on undirected.person_id = reachable.member_person_id

),

member_rank as (

    select
        members.member_person_id,
        members.member_person_id in (select target_person_id from edges) as is_link_target,
        min(events.event_at) as first_seen_at
    from (select distinct member_person_id from reachable) as members
    left join events on events.person_id = members.member_person_id
    group by all

),

shoppers as (

    select
        reachable.person_id,
        arg_min(
            reachable.member_person_id,
            (not member_rank.is_link_target, member_rank.first_seen_at, reachable.member_person_id)
        ) as shopper_id
    from reachable
    inner join member_rank using (member_person_id)
    group by reachable.person_id

),

final as (

    select person_id, shopper_id
    from shoppers
    where person_id != shopper_id

)

select * from final
