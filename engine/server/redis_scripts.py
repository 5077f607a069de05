"""The Redis side of the shared call store: its keys, and the Lua scripts that change them.

Each script runs atomically in Redis, so every decision about a call (who owns it, whether a
write is newer than what is stored, whether it is over) is made in one place, in one round
trip, against the stored truth rather than a process's memory. Times come from Redis's own
clock (``TIME``), so hosts with skewed clocks agree.

Keys (a single Redis, or a primary with replicas; not Redis Cluster, whose slots the shared
keys below would cross):

* ``dialplan:call:{<id>}``: a hash of one call: ``epoch`` (how many times a socket took the
  call), ``seq`` (writes within that epoch), ``owner`` (the process that serves it: its lease;
  empty once its socket closed), ``blob`` (the encoded call state).
* ``dialplan:call:{<id>}:turns``: the call's turn records, appended as they happen.
* ``dialplan:instances``: a hash of live processes and the time of their last heartbeat.
* ``dialplan:instance:<instance>:calls``: the calls a process owns.
* ``dialplan:expiring``: a sorted set of calls whose socket closed, by the time their grace
  period ends.
* ``dialplan:taken`` (a pub/sub channel): ``<call id> <instance>`` whenever a socket takes a
  call, so that an older socket of it, wherever it is, stops speaking.
"""

from __future__ import annotations

# The scripts below spell some of these keys out as they are here ('dialplan:instances',
# 'dialplan:instance:<id>:calls', 'dialplan:taken'): a change of prefix changes them too.
PREFIX = "dialplan"
INSTANCES = f"{PREFIX}:instances"
EXPIRING = f"{PREFIX}:expiring"
TAKEN = f"{PREFIX}:taken"


def call_key(call_id: str) -> str:
    """The hash of a call (the braces keep a call's two keys together, should that matter)."""
    return f"{PREFIX}:call:{{{call_id}}}"


def turns_key(call_id: str) -> str:
    """The list of a call's turn records."""
    return f"{call_key(call_id)}:turns"


_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function owned_by(instance)
  return 'dialplan:instance:' .. instance .. ':calls'
end
-- A process that owns a call is on the heartbeat list from then on, even before its first
-- beat: should it die at once, the others notice and the call is still recorded.
local function owns(instance, id)
  redis.call('SADD', owned_by(instance), id)
  redis.call('HSETNX', 'dialplan:instances', instance, now_ms())
end
"""

OPEN = (
    _COMMON
    + """
-- A socket takes a call: a new epoch (its writes count from 0 again), this process as its
-- owner, every other socket told.
-- KEYS: call, turns, expiring. ARGV: call id, instance, live ttl (ms).
-- Returns {epoch, previous owner, blob, turns}.
local call, turns = KEYS[1], KEYS[2]
local id, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local stored = redis.call('HMGET', call, 'epoch', 'owner', 'blob')
local epoch = (tonumber(stored[1]) or 0) + 1
local previous = stored[2]
if previous and previous ~= '' and previous ~= me then
  redis.call('SREM', owned_by(previous), id)
end
redis.call('HSET', call, 'epoch', epoch, 'seq', 0, 'owner', me)
owns(me, id)
redis.call('ZREM', KEYS[3], id)
redis.call('PEXPIRE', call, ttl)
redis.call('PEXPIRE', turns, ttl)
redis.call('PUBLISH', 'dialplan:taken', id .. ' ' .. me)
return {epoch, previous or false, stored[3] or false, redis.call('LRANGE', turns, 0, -1)}
"""
)

SAVE = (
    _COMMON
    + """
-- Write a call's state if this write is the newest: an older epoch (another socket took the
-- call since) or an older seq never overwrites what is stored.
-- KEYS: call, turns, expiring.
-- ARGV: call id, instance, epoch (0: take the call now), seq, blob, live ttl (ms),
--       release (1: its socket closed), grace (ms), ttl after release (ms),
--       turns already stored, replace the turns (1), the new turns...
-- Returns the epoch written, 0 if something as new is stored already, -1 if another socket
-- owns the call now, -2 if the stored turns are not the ones expected (send them all).
local call, turns, expiring = KEYS[1], KEYS[2], KEYS[3]
local id, me = ARGV[1], ARGV[2]
local epoch, seq = tonumber(ARGV[3]), tonumber(ARGV[4])
local stored = redis.call('HMGET', call, 'epoch', 'seq', 'owner')
local stored_epoch, stored_seq = tonumber(stored[1]), tonumber(stored[2]) or 0
if epoch == 0 then
  epoch = (stored_epoch or 0) + 1
  seq = 1
  local previous = stored[3]
  if previous and previous ~= '' and previous ~= me then
    redis.call('SREM', owned_by(previous), id)
  end
  redis.call('PUBLISH', 'dialplan:taken', id .. ' ' .. me)
elseif stored_epoch then
  if stored_epoch > epoch then return -1 end
  if stored_epoch == epoch and stored_seq >= seq then return 0 end
end
local replace = ARGV[11] == '1'
if not replace and redis.call('LLEN', turns) ~= tonumber(ARGV[10]) then return -2 end
if replace then redis.call('DEL', turns) end
for i = 12, #ARGV do redis.call('RPUSH', turns, ARGV[i]) end
local ttl = tonumber(ARGV[6])
if ARGV[7] == '1' then
  redis.call('HSET', call, 'epoch', epoch, 'seq', seq, 'blob', ARGV[5], 'owner', '')
  redis.call('SREM', owned_by(me), id)
  redis.call('ZADD', expiring, now_ms() + tonumber(ARGV[8]), id)
  ttl = tonumber(ARGV[9])
else
  redis.call('HSET', call, 'epoch', epoch, 'seq', seq, 'blob', ARGV[5], 'owner', me)
  owns(me, id)
  redis.call('ZREM', expiring, id)
end
redis.call('PEXPIRE', call, ttl)
redis.call('PEXPIRE', turns, ttl)
return epoch
"""
)

CLAIM_EXPIRED = (
    _COMMON
    + """
-- Take calls whose grace period is over: each is returned to exactly one process (which
-- writes its record) and removed in the same step, so a reconnect either came before (and
-- the call goes on) or comes after (and is a new call).
-- KEYS: expiring. ARGV: how many at most. Returns {id, blob, turns, id, blob, turns, ...}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local call = 'dialplan:call:{' .. id .. '}'
  local stored = redis.call('HMGET', call, 'owner', 'blob')
  if (not stored[1] or stored[1] == '') and stored[2] then
    table.insert(out, id)
    table.insert(out, stored[2])
    table.insert(out, redis.call('LRANGE', call .. ':turns', 0, -1))
    redis.call('DEL', call, call .. ':turns')
  end
end
return out
"""
)

HOUSEKEEPING = (
    _COMMON
    + """
-- A process's heartbeat, and the calls of processes that stopped beating handed to expiry
-- (their sockets died with them; the grace period counts from their last beat).
-- KEYS: instances, expiring. ARGV: instance, dead after (ms), grace (ms), ttl after release.
-- Returns how many calls were handed to expiry.
local now = now_ms()
local me, dead_after = ARGV[1], tonumber(ARGV[2])
local grace, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HSET', KEYS[1], me, now)
local beats = redis.call('HGETALL', KEYS[1])
local moved = 0
for i = 1, #beats, 2 do
  local instance, beat = beats[i], tonumber(beats[i + 1])
  if instance ~= me and now - beat > dead_after then
    redis.call('HDEL', KEYS[1], instance)
    for _, id in ipairs(redis.call('SMEMBERS', owned_by(instance))) do
      local call = 'dialplan:call:{' .. id .. '}'
      if redis.call('HGET', call, 'owner') == instance then
        redis.call('HSET', call, 'owner', '')
        redis.call('ZADD', KEYS[2], math.max(beat + grace, now), id)
        redis.call('PEXPIRE', call, ttl)
        redis.call('PEXPIRE', call .. ':turns', ttl)
        moved = moved + 1
      end
    end
    redis.call('DEL', owned_by(instance))
  end
end
return moved
"""
)

RETIRE = (
    _COMMON
    + """
-- A process stops: calls it still owns go to expiry now (another process records them if
-- the platform does not bring them back), and it leaves the heartbeat list.
-- KEYS: instances, expiring. ARGV: instance, grace (ms), ttl after release (ms).
local me = ARGV[1]
local now = now_ms()
for _, id in ipairs(redis.call('SMEMBERS', owned_by(me))) do
  local call = 'dialplan:call:{' .. id .. '}'
  if redis.call('HGET', call, 'owner') == me then
    redis.call('HSET', call, 'owner', '')
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    redis.call('PEXPIRE', call, tonumber(ARGV[3]))
    redis.call('PEXPIRE', call .. ':turns', tonumber(ARGV[3]))
  end
end
redis.call('DEL', owned_by(me))
redis.call('HDEL', KEYS[1], me)
return 1
"""
)
