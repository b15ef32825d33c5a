-- Does an event's payload satisfy a `match`: every JSON pointer of it names
-- a value equal to the one given (`{"/status": "ok", "/items/0/sku": "a1"}`)?
-- An empty or null match accepts every payload; "" points at the whole payload.
CREATE OR REPLACE FUNCTION edgeflow._event_matches(p_payload jsonb, p_match jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select coalesce(bool_and(
           p_payload #> (case when m.key = '' then '{}'::text[] else array(
             select replace(replace(s.seg, '~1', '/'), '~0', '~')
               from unnest(string_to_array(substr(m.key, 2), '/')) with ordinality as s(seg, ord)
              order by s.ord) end)
           is not distinct from m.value), true)
    from jsonb_each(case when jsonb_typeof(p_match) = 'object' then p_match else '{}' end) as m;
$function$;
