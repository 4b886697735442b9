using Microsoft.Extensions.Logging;

namespace Courier.Server.Internal;

internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "Courier server {Name} listening on {Endpoint} ({Transport} transport)")]
    public static partial void Listening(ILogger logger, string name, string endpoint, string transport);

    [LoggerMessage(2, LogLevel.Warning, "Dropped a message of {FrameCount} frame(s): {Reason}")]
    public static partial void Dropped(ILogger logger, int frameCount, string reason);

    [LoggerMessage(3, LogLevel.Information, "Rejected a request for {Service}: {Status} {Reason}")]
    public static partial void Rejected(ILogger logger, string service, int status, string reason);

    [LoggerMessage(4, LogLevel.Error, "Handler for {Service} failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string service);

    [LoggerMessage(5, LogLevel.Warning, "Reply to a request for {Service} could not be queued (peer gone or its queue full); dropped")]
    public static partial void ReplyDropped(ILogger logger, string service);

    [LoggerMessage(6, LogLevel.Information, "Courier server {Name} stopping: {InFlight} request(s) in flight, draining for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, string name, int inFlight, TimeSpan drainTimeout);

    [LoggerMessage(7, LogLevel.Warning, "Drain timeout: cancelling {InFlight} request(s) still in flight")]
    public static partial void DrainTimedOut(ILogger logger, int inFlight);
}
