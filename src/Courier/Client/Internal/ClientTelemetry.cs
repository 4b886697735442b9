using Courier.Diagnostics.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// A request's metrics and span, at its end: <c>rpc.client.call.duration</c> and the Client span. Loop thread. Listeners
/// are the application's code, run here: one that throws is logged and has no effect on the request (it had left the
/// table before its duration was recorded, and was never completed; a retry's count came before its resend).
/// </summary>
internal static class ClientTelemetry
{
    public static void Completed(PendingRequest request, TimeProvider clock, Exception? error, ILogger logger)
        => Guarded(request, (clock, error), logger, static (r, state) => Record(r, state.clock, state.error));

    private static void Record(PendingRequest request, TimeProvider clock, Exception? error)
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
    public static void Cancelled(PendingRequest request, ILogger logger)
        => Guarded(request, 0, logger, static (r, _) =>
        {
            if (r.Activity is { } activity)
            {
                CourierTracing.Stop(activity, 0, "cancelled");
            }
        });

    public static void Retried(PendingRequest request, ILogger logger)
        => Guarded(request, 0, logger, static (r, _) =>
        {
            if (CourierMetrics.ClientRetries.Enabled)
            {
                CourierMetrics.ClientRetries.Add(1, new KeyValuePair<string, object?>(CourierMetrics.MethodTag, r.Service));
            }
        });

    /// <summary>Runs <paramref name="record"/>: what a listener throws in it is logged, and the request goes on.</summary>
    private static void Guarded<TState>(PendingRequest request, TState state, ILogger logger, Action<PendingRequest, TState> record)
    {
        try
        {
            record(request, state);
        }
#pragma warning disable CA1031 // a listener's exception must not end a call, or the rest of a batch of replies
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClientLog.ListenerThrew(logger, request.Service, ex);
        }
    }
}
