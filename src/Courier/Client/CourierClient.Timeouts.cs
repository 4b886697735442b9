using Courier.Client.Internal;

namespace Courier.Client;

// Loop thread only: attempt timeouts, deadlines and the reconnect they trigger.
public sealed partial class CourierClient
{
    private void ScheduleTimeout(PendingRequest request)
        => _timeouts.Enqueue(request, Math.Min(request.AttemptDeadline, request.Deadline));

    private void OnTick()
    {
        var now = _clock.GetTimestamp();
        var connectionTimedOut = now >= _probeDeadline;
        while (_timeouts.TryPeek(out var request, out var due) && due <= now)
        {
            _timeouts.Dequeue();
            if (request.Task.IsCompleted || !_pending.ContainsKey(request.Id)
                || due != Math.Min(request.AttemptDeadline, request.Deadline))
            {
                continue; // stale entry: answered, or rescheduled since
            }

            if (now >= request.Deadline || request.Attempts >= _options.MaxAttempts)
            {
                Fail(request, new CourierTimeoutException(request.Service, request.Attempts, _clock.GetElapsedTime(request.StartedAt, now)));
                continue;
            }

            connectionTimedOut = true;
        }

        if (connectionTimedOut && _pending.Count > 0)
        {
            ClientLog.Reconnecting(_logger, _endpoint, _options.Timeout, _pending.Count);
            Reconnect(resend: true);
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
    private void Reconnect(bool resend)
    {
        Disconnect();
        _waiting.Clear();
        if (!resend || _pending.Count == 0)
        {
            return;
        }

        EnsureConnected();
        var now = _clock.GetTimestamp();
        foreach (var request in _pending.Values.OrderBy(r => r.Id).ToArray())
        {
            if (request.AttemptDeadline <= now)
            {
                request.Attempts++;
            }

            Dispatch(request);
        }
    }
}
