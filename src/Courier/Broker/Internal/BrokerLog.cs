using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// The broker's log lines. Workers appear by the name they declared (courier/4), or by their routing id in hex when
/// they declared none (stock workers, Courier workers before courier/4). What is expected in a healthy system (a worker
/// leaving, a worker from before a broker restart) is Information; what is not (a worker dying, a protocol violation) is a Warning.
/// </summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1, LogLevel.Information, "Courier broker listening on {Endpoint} ({Transport} transport)")]
    public static partial void Listening(ILogger logger, string endpoint, string transport);

    [LoggerMessage(2, LogLevel.Information, "Worker {Worker} ready for {Service} (capacity {Capacity}, {Protocol}, routing id {Id})")]
    public static partial void WorkerReady(ILogger logger, string worker, string service, int capacity, string protocol, string id);

    [LoggerMessage(3, LogLevel.Warning, "Worker {Worker} of {Services} is gone ({Reason}); {Requeued} request(s) go back to the queue")]
    public static partial void WorkerGone(ILogger logger, string worker, string services, string reason, int requeued);

    [LoggerMessage(4, LogLevel.Warning, "Protocol violation by {Peer}: {Reason}; sent DISCONNECT")]
    public static partial void Violation(ILogger logger, string peer, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Request for {Service} witnessed {Deaths} worker deaths; answered as a poison request")]
    public static partial void Poison(ILogger logger, string service, int deaths);

    [LoggerMessage(8, LogLevel.Information, "Worker {Worker} was refused a request (it has not read what it was sent: TransportOptions.SendHighWatermark, MaxPendingBytesPerPeer; or its connection is gone): {Requeued} request(s) go back to the queue, and it gets no more until the next tick (at most one such line a second)")]
    public static partial void WorkerBehind(ILogger logger, string worker, int requeued);

    [LoggerMessage(6, LogLevel.Information, "Worker {Worker} of {Services} left ({Reason}); {Requeued} request(s) go back to the queue")]
    public static partial void WorkerLeft(ILogger logger, string worker, string services, string reason, int requeued);

    [LoggerMessage(7, LogLevel.Information, "Worker {Peer} sent {What} but is not registered (the broker restarted, or expired it); sent DISCONNECT so that it registers again")]
    public static partial void NotRegistered(ILogger logger, string peer, string what);
}
