using Courier.Diagnostics.Internal;

namespace Courier.Client.Internal;

/// <summary>A request's metrics and span, at its end: <c>rpc.client.call.duration</c> and the Client span. Loop thread.</summary>
internal static class ClientTelemetry
{
    public static void Completed(PendingRequest request, TimeProvider clock, Exception? error)
    {
        var (status, errorType) = Outcome(error);
        if (CourierMetrics.ClientDuration.Enabled && request.StartedAt != 0)
        {
            var tags = new System.Diagnostics.TagList
            {
                { CourierMetrics.SystemNameTag, CourierMetrics.SystemName },
                { CourierMetrics.MethodTag, request.Service },
            };
            if (status > 0)
            {
                tags.Add(CourierMetrics.StatusTag, StatusText.Of(status));
            }

            if (errorType is not null || status >= 400)
            {
                tags.Add(CourierMetrics.ErrorTypeTag, errorType ?? StatusText.Of(status));
            }

            CourierMetrics.ClientDuration.Record(clock.GetElapsedTime(request.StartedAt).TotalSeconds, tags);
        }

        if (request.Activity is { } activity)
        {
            CourierTracing.Stop(activity, status, errorType);
        }
    }

    /// <summary>
    /// The status a request ended with (0: none) and its <c>error.type</c> when that is not the status. A short fixed set
    /// of values: an exception's type name would make a series of its own.
    /// </summary>
    internal static (int Status, string? ErrorType) Outcome(Exception? error) => error switch
    {
        null => (Protocol.CourierStatus.Ok, null),
        CourierRemoteException remote => (remote.StatusCode, null),
        // 520 whether the peer answered it or the client judged it (a connection lost while the request may have run).
        CourierOutcomeUnknownException => (Protocol.CourierStatus.OutcomeUnknown, null),
        CourierTimeoutException => (0, "timeout"),
        CourierUnreachableException => (0, "unreachable"),
        CourierClosedException => (0, "closed"),
        CourierProtocolException => (0, "protocol"),
        _ => (0, "_OTHER"),
    };

    /// <summary>The caller cancelled: its span ends, and no duration is recorded (the caller stopped waiting, not the peer).</summary>
    public static void Cancelled(PendingRequest request)
    {
        if (request.Activity is { } activity)
        {
            CourierTracing.Stop(activity, 0, "cancelled");
        }
    }

    public static void Retried(PendingRequest request)
    {
        if (CourierMetrics.ClientRetries.Enabled)
        {
            CourierMetrics.ClientRetries.Add(1, new KeyValuePair<string, object?>(CourierMetrics.MethodTag, request.Service));
        }
    }
}
