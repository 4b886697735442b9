using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

internal static partial class ClientLog
{
    [LoggerMessage(1, LogLevel.Debug, "Connecting to {Endpoint} (protocol {Protocol})")]
    public static partial void Connecting(ILogger logger, string endpoint, string protocol);

    [LoggerMessage(2, LogLevel.Information, "Peer at {Endpoint} speaks {Protocol}")]
    public static partial void Negotiated(ILogger logger, string endpoint, string protocol);

    [LoggerMessage(3, LogLevel.Information, "No reply from {Endpoint} within {Timeout}; reconnecting and resending {Pending} request(s)")]
    public static partial void Reconnecting(ILogger logger, string endpoint, TimeSpan timeout, int pending);

    [LoggerMessage(4, LogLevel.Warning, "Dropped an unexpected message of {FrameCount} frame(s) from {Endpoint}: {Reason}")]
    public static partial void Unexpected(ILogger logger, int frameCount, string endpoint, string reason);
}
