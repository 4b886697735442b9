using Courier.Diagnostics.Internal;

namespace Courier.Client.Internal;

/// <summary>A request's metrics and span, at its end: <c>rpc.client.call.duration</c> and the Client span. Loop thread.</summary>
internal static class ClientTelemetry
{
    public static void Completed(PendingRequest request, TimeProvider clock, Exception? error)
    {
        var status = error switch
        {
            null => Protocol.CourierStatus.Ok,
            CourierRemoteException remote => remote.StatusCode,
            _ => 0,
        };
        var errorType = error switch
        {
            null or CourierRemoteException => null,
            CourierTimeoutException => "timeout",
            CourierUnreachableException => "unreachable",
            CourierClosedException => "closed",
            _ => error.GetType().FullName,
        };
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
