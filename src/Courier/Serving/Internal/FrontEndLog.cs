using Microsoft.Extensions.Logging;

namespace Courier.Serving.Internal;

internal static partial class FrontEndLog
{
    [LoggerMessage(101, LogLevel.Warning, "Dropped a message of {FrameCount} frame(s): {Reason}")]
    public static partial void Dropped(ILogger logger, int frameCount, string reason);

    [LoggerMessage(102, LogLevel.Information, "Rejected a request for {Service}: {Status} {Reason}")]
    public static partial void Rejected(ILogger logger, string service, int status, string reason);

    // Information: a client that goes before its reply (a closed probe socket, a restart) is routine, and the peer's
    // own timeout tells it; nothing here needs an operator.
    [LoggerMessage(103, LogLevel.Information, "Reply to a request for {Service} dropped: its client is gone")]
    public static partial void ReplyToGoneClient(ILogger logger, string service);

    // Information: the transport refused it for another reason (it is closing, say); counted with the above.
    [LoggerMessage(106, LogLevel.Information, "Reply to a request for {Service} could not be queued; dropped")]
    public static partial void ReplyDropped(ILogger logger, string service);

    // Warning: a peer that leaves this many bytes unread is broken or hostile.
    [LoggerMessage(104, LogLevel.Warning, "Reply to a request for {Service} dropped: its client already has more than {Budget} bytes of replies it has not read (TransportOptions.MaxPendingBytesPerPeer)")]
    public static partial void ReplyOverBudget(ILogger logger, string service, long budget);

    // Warning: a client with a full queue is there and does not read, as above.
    [LoggerMessage(105, LogLevel.Warning, "Reply to a request for {Service} dropped: its client has {HighWatermark} messages queued that it has not read (TransportOptions.SendHighWatermark)")]
    public static partial void ReplyQueueFull(ILogger logger, string service, int highWatermark);
}
