local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local starts = tonumber(ARGV[3])
local per = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local token = ARGV[6]
-- Expired leases and starts out of the window are trimmed only when they might be in
-- the way: below the limit, counting them as well changes nothing (and the sets never
-- hold more than the limit plus one).
if n > 0 and redis.call('ZCARD', KEYS[1]) >= n then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= n then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, 1, math.ceil(tonumber(first[2]) - now)}
  end
end
local tat = now
if starts > 0 then
  if burst > 0 then
    local interval = per / starts
    local stored = redis.call('GET', KEYS[2])
    if stored then tat = math.max(tonumber(stored), now) end
    local allowed = tat - interval * (burst - 1)
    if allowed > now then
      return {0, 2, math.ceil(allowed - now)}
    end
    tat = tat + interval
  elseif redis.call('ZCARD', KEYS[2]) >= starts then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - per)
    if redis.call('ZCARD', KEYS[2]) >= starts then
      local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
      return {0, 2, math.ceil(tonumber(first[2]) + per - now)}
    end
  end
end
if n > 0 then
  redis.call('ZADD', KEYS[1], now + lease, token)
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000) + 1)
end
if starts > 0 then
  if burst > 0 then
    redis.call('SET', KEYS[2], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  else
    redis.call('ZADD', KEYS[2], now, token)
    redis.call('PEXPIRE', KEYS[2], math.ceil(per / 1000) + 1)
  end
end
return {1, 0, 0}
