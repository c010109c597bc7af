"""The Redis key layout of the plan queue and the per-plan lock, and the Lua scripts on it.

Design notes (the layout): docs/decisions/redis-queue.md
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "memora-cdn:"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The names of the queue's keys under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def processing(self) -> str:
        return f"{self.prefix}processing"

    @property
    def leases(self) -> str:
        return f"{self.prefix}leases"

    @property
    def retry(self) -> str:
        return f"{self.prefix}retry"

    @property
    def attempts(self) -> str:
        return f"{self.prefix}attempts"

    @property
    def fallback(self) -> str:
        return f"{self.prefix}fallback"

    @property
    def dead(self) -> str:
        return f"{self.prefix}dead"

    def lock(self, plan: str) -> str:
        return f"{self.prefix}lock:{plan}"

    @property
    def queue(self) -> list[str]:
        """The KEYS of every queue script, in the order `_PRELUDE` names them."""
        return [
            self.pending,
            self.processing,
            self.leases,
            self.retry,
            self.attempts,
            self.fallback,
            self.dead,
        ]

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key under this prefix (tests, operators)."""
        special = "\\*?[]^-"
        return "".join(f"\\{c}" if c in special else c for c in self.prefix) + "*"


# -- Lua -------------------------------------------------------------------------------
#
# Every queue script receives `RedisKeys.queue` as KEYS. A claim record that is not valid
# JSON reads as `{}`: it matches no token, so no one can complete or renew it, and its
# `leases` entry lets a claimer take the plan over once the lease runs out.

_PRELUDE = """
local PENDING, PROCESSING, LEASES, RETRY, ATTEMPTS, FALLBACK, DEAD =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local function record(plan)
    local raw = redis.call('HGET', PROCESSING, plan)
    if not raw then return nil end
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == 'table' then return rec end
    return {}
end

local function held(plan, token)
    local rec = record(plan)
    if rec and rec.token == token then return rec end
    return nil
end

local function waiting(plan)
    return redis.call('ZSCORE', PENDING, plan) or redis.call('ZSCORE', RETRY, plan)
        or redis.call('HEXISTS', DEAD, plan) == 1
end

local function forget_claim(plan)
    redis.call('HDEL', PROCESSING, plan)
    redis.call('ZREM', LEASES, plan)
end

-- Back to pending at `due`, keeping the failure count (a release is not a failure).
local function to_pending(plan, rec, due)
    forget_claim(plan)
    redis.call('ZADD', PENDING, due, plan)
    local attempts = tonumber(rec.attempts) or 0
    if attempts > 0 then
        redis.call('HSET', ATTEMPTS, plan, attempts)
    else
        redis.call('HDEL', ATTEMPTS, plan)
    end
end
"""

# ARGV: now, is_fallback ('1'/'0'), plans… → the plans newly scheduled (new, or dirty now).
ENQUEUE = (
    _PRELUDE
    + """
local scheduled = {}
for i = 3, #ARGV do
    local plan = ARGV[i]
    local rec = record(plan)
    if rec then
        if rec.token and not rec.dirty then
            rec.dirty = true
            redis.call('HSET', PROCESSING, plan, cjson.encode(rec))
            table.insert(scheduled, plan)
        end
    elseif not waiting(plan) then
        redis.call('ZADD', PENDING, ARGV[1], plan)
        if ARGV[2] == '1' then redis.call('SADD', FALLBACK, plan) end
        table.insert(scheduled, plan)
    end
end
return scheduled
"""
)

# ARGV: worker, now, lease end, lease end (ISO), include_pending ('1'/'0'), limit,
#       token base (random), n (number of named plans, -1 for any), plans…
# → {plan, token, attempts, is_fallback ('1'/'0')} per claim, in order of due time; the
#   tokens are the random base and the claim's position, so one call's claims never share.
CLAIM = (
    _PRELUDE
    + """
local now = tonumber(ARGV[2])
local include_pending = ARGV[5] == '1'
local limit = tonumber(ARGV[6])
local named = tonumber(ARGV[8])
local candidates = {}

local function consider(plan, score, source)
    table.insert(candidates, {plan, tonumber(score), source})
end

if named < 0 then
    local function due(key, max, source)
        local rows = redis.call('ZRANGEBYSCORE', key, '-inf', max, 'WITHSCORES', 'LIMIT', 0, limit)
        for i = 1, #rows, 2 do consider(rows[i], rows[i + 1], source) end
    end
    if include_pending then due(PENDING, ARGV[2], 'pending') end
    due(RETRY, ARGV[2], 'retry')
    due(LEASES, '(' .. ARGV[2], 'lease')
else
    for i = 1, named do
        local plan = ARGV[8 + i]
        local score = include_pending and redis.call('ZSCORE', PENDING, plan)
        if score then
            if tonumber(score) <= now then consider(plan, score, 'pending') end
        else
            score = redis.call('ZSCORE', RETRY, plan)
            if score then
                if tonumber(score) <= now then consider(plan, score, 'retry') end
            else
                score = redis.call('ZSCORE', LEASES, plan)
                if score and tonumber(score) < now then consider(plan, score, 'lease') end
            end
        end
    end
end

table.sort(candidates, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
end)

local claims = {}
for i = 1, math.min(limit, #candidates) do
    local plan, source = candidates[i][1], candidates[i][3]
    local attempts, fallback
    if source == 'lease' then
        local old = record(plan) or {}
        attempts = tonumber(old.attempts) or 0
        fallback = old.is_fallback == true
    else
        redis.call('ZREM', source == 'pending' and PENDING or RETRY, plan)
        attempts = tonumber(redis.call('HGET', ATTEMPTS, plan)) or 0
        redis.call('HDEL', ATTEMPTS, plan)
        fallback = redis.call('SISMEMBER', FALLBACK, plan) == 1
    end
    local token = ARGV[7] .. '.' .. i
    redis.call('HSET', PROCESSING, plan, cjson.encode({
        token = token, worker = ARGV[1], lease_until = ARGV[4],
        attempts = attempts, is_fallback = fallback, dirty = false,
    }))
    redis.call('ZADD', LEASES, ARGV[3], plan)
    table.insert(claims, {plan, token, tostring(attempts), fallback and '1' or '0'})
end
return claims
"""
)

# ARGV: plan, token, lease end, lease end (ISO) → 1 renewed, 0 the claim was lost.
RENEW = (
    _PRELUDE
    + """
local rec = held(ARGV[1], ARGV[2])
if not rec then return 0 end
rec.lease_until = ARGV[4]
redis.call('HSET', PROCESSING, ARGV[1], cjson.encode(rec))
redis.call('ZADD', LEASES, ARGV[3], ARGV[1])
return 1
"""
)

# ARGV: plan, token, now → 1 done, 0 not held. Dirty (queued meanwhile): back to pending.
COMPLETE = (
    _PRELUDE
    + """
local plan = ARGV[1]
local rec = held(plan, ARGV[2])
if not rec then return 0 end
if rec.dirty then
    to_pending(plan, rec, ARGV[3])
else
    forget_claim(plan)
    redis.call('HDEL', ATTEMPTS, plan)
    redis.call('SREM', FALLBACK, plan)
end
return 1
"""
)

# ARGV: plan, token, now → 1 put back as pending, 0 not held.
RELEASE = (
    _PRELUDE
    + """
local rec = held(ARGV[1], ARGV[2])
if not rec then return 0 end
to_pending(ARGV[1], rec, ARGV[3])
return 1
"""
)

# ARGV: plan, token, failures, retry due ('' when dead), dead-letter JSON → 1 done, 0 not held.
FAIL = (
    _PRELUDE
    + """
local plan = ARGV[1]
if not held(plan, ARGV[2]) then return 0 end
forget_claim(plan)
if ARGV[4] == '' then
    redis.call('HDEL', ATTEMPTS, plan)
    redis.call('HSET', DEAD, plan, ARGV[5])
else
    redis.call('HSET', ATTEMPTS, plan, ARGV[3])
    redis.call('ZADD', RETRY, ARGV[4], plan)
end
return 1
"""
)

# ARGV: plan, now → 1 moved from the dead letter to pending with a fresh budget, else 0.
RETRY_DEAD = (
    _PRELUDE
    + """
if redis.call('HDEL', DEAD, ARGV[1]) == 0 then return 0 end
redis.call('HDEL', ATTEMPTS, ARGV[1])
redis.call('ZADD', PENDING, ARGV[2], ARGV[1])
return 1
"""
)

# ARGV: plan (none: every dead letter) → how many were forgotten.
CLEAR_DEAD = (
    _PRELUDE
    + """
local plans = ARGV
if #ARGV == 0 then plans = redis.call('HKEYS', DEAD) end
local cleared = 0
for _, plan in ipairs(plans) do
    if redis.call('HDEL', DEAD, plan) == 1 then
        redis.call('SREM', FALLBACK, plan)
        cleared = cleared + 1
    end
end
return cleared
"""
)

# Fallback recovery: a plan from the SQL fallback joins Redis, merged with what Redis holds.
# ARGV: state ('pending'/'retry'/'dead'), plan, due, attempts, dead-letter JSON.
# Already building in Redis: marked dirty (a dead letter is dropped: the build covers it);
# already pending, retrying or dead in Redis: kept as it is (as `enqueue` would).
# → 1 placed as it was, 0 merged.
ADOPT = (
    _PRELUDE
    + """
local state, plan = ARGV[1], ARGV[2]
local rec = record(plan)
if rec then
    if state ~= 'dead' and rec.token and not rec.dirty then
        rec.dirty = true
        redis.call('HSET', PROCESSING, plan, cjson.encode(rec))
    end
    return 0
end
if waiting(plan) then return 0 end
if state == 'dead' then
    redis.call('HSET', DEAD, plan, ARGV[5])
else
    redis.call('ZADD', state == 'retry' and RETRY or PENDING, ARGV[3], plan)
    if tonumber(ARGV[4]) > 0 then redis.call('HSET', ATTEMPTS, plan, ARGV[4]) end
end
redis.call('SADD', FALLBACK, plan)
return 1
"""
)
