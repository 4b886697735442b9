using Courier.Client.Internal;

namespace Courier.Client;

// Loop thread only: attempt timeouts, deadlines and the reconnect they trigger.
public sealed partial class CourierClient
{
    private void OnTick()
    {
        var now = _clock.GetTimestamp();
        var connectionTimedOut = _connection is { } connection && now >= connection.Negotiation.ProbeDeadline;
        while (_deadlines.First is { } late && _deadlines.DueOf(late) <= now)
        {
            Fail(late, new CourierTimeoutException(late.Service, late.Attempts, _clock.GetElapsedTime(late.StartedAt, now)));
        }

        while (_attemptTimeouts.First is { } expired && _attemptTimeouts.DueOf(expired) <= now)
        {
            if (expired.Attempts >= _options.MaxAttempts)
            {
                Fail(expired, new CourierTimeoutException(expired.Service, expired.Attempts, _clock.GetElapsedTime(expired.StartedAt, now)));
                continue;
            }

            // Still pending: the reconnect below gives it its next attempt (and a new place in the list).
            _attemptTimeouts.Remove(expired);
            connectionTimedOut = true;
        }

        if (connectionTimedOut && _pending.Count > 0)
        {
            ClientLog.Reconnecting(_logger, Endpoint, _options.Timeout, _pending.Count);
            Reconnect(resend: true, now);
        }
        else if (connectionTimedOut)
        {
            Disconnect(); // the probe went unanswered and nothing waits: connect afresh on the next request
        }
    }

    /// <summary>
    /// Lazy Pirate: drop the connection (anything still queued in it is lost), open a fresh one to the next endpoint
    /// and give it every outstanding request. Requests whose own attempt expired use up one attempt.
    /// </summary>
    /// <param name="resend">Give the outstanding requests to the new connection.</param>
    /// <param name="now">
    /// The moment the attempts are judged at: the tick's, not a later one, so an attempt that expired only while the
    /// connection was being replaced is not counted (or resent past its last attempt) behind the tick's back.
    /// </param>
    private void Reconnect(bool resend, long now)
    {
        Disconnect();
        _waiting.Clear();
        if (!resend || _pending.Count == 0)
        {
            return;
        }

        foreach (var request in _pending.Values.OrderBy(r => r.Id).ToArray())
        {
            if (request.AttemptDeadline <= now)
            {
                if (request.Attempts >= _options.MaxAttempts || now >= request.Deadline)
                {
                    Fail(request, new CourierTimeoutException(request.Service, request.Attempts, _clock.GetElapsedTime(request.StartedAt, now)));
                    continue;
                }

                request.Attempts++;
            }

            Dispatch(request);
        }
    }
}
