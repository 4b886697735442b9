using Microsoft.Extensions.Logging;

namespace Courier.Server.Internal;

internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "Courier server {Name} listening on {Endpoint} ({Transport} transport)")]
    public static partial void Listening(ILogger logger, string name, string endpoint, string transport);

    [LoggerMessage(6, LogLevel.Information, "Courier server {Name} stopping: {InFlight} request(s) in flight, draining for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, string name, int inFlight, TimeSpan drainTimeout);

    [LoggerMessage(7, LogLevel.Warning, "Drain timeout: cancelling {InFlight} request(s) still in flight")]
    public static partial void DrainTimedOut(ILogger logger, int inFlight);
}
