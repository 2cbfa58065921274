{#-
  One row per customer seen in the curated events: first and last activity, lifetime counts.
  No PII: the masked contact columns stay in silver / the merged table.
-#}
select
    customer_id,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at,
    min(event_date) as first_event_date,
    max(event_date) as last_event_date,
    count(*) as lifetime_events,
    count(distinct session_id) as lifetime_sessions,
    count(case when event_type = 'purchase' then 1 end) as lifetime_purchases
from {{ ref('stg_customer_behavior') }}
where customer_id is not null
group by customer_id
