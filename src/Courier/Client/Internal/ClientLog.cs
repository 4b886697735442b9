using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

internal static partial class ClientLog
{
    [LoggerMessage(1, LogLevel.Debug, "Connecting to {Endpoint} (protocol {Protocol})")]
    public static partial void Connecting(ILogger logger, string endpoint, string protocol);

    [LoggerMessage(2, LogLevel.Information, "Peer at {Endpoint} speaks {Protocol}")]
    public static partial void Negotiated(ILogger logger, string endpoint, string protocol);

    [LoggerMessage(3, LogLevel.Information, "Connection to {Endpoint} is dead ({Reason}); it held {Held} request(s), moved or failed")]
    public static partial void ConnectionLost(ILogger logger, string endpoint, string reason, int held);

    [LoggerMessage(4, LogLevel.Warning, "Dropped an unexpected message of {FrameCount} frame(s) from {Endpoint}: {Reason}")]
    public static partial void Unexpected(ILogger logger, int frameCount, string endpoint, string reason);

    [LoggerMessage(5, LogLevel.Information, "Peer at {Endpoint} refused a request (stopping or full); its connection takes no more and closes after its {Held} request(s)")]
    public static partial void Retiring(ILogger logger, string endpoint, int held);

    [LoggerMessage(6, LogLevel.Warning, "Connection to {Endpoint} could not queue {Count} request(s): its queue is full (TransportOptions.SendHighWatermark, {HighWatermark} messages: the peer does not read as fast as they are sent, or cannot be reached); each is sent again, or failed, when its attempt times out (at most one such line every {Interval})")]
    public static partial void SendsRefused(ILogger logger, string endpoint, int count, int highWatermark, TimeSpan interval);

    [LoggerMessage(7, LogLevel.Information, "Peer at {Endpoint} answered as another incarnation: it restarted, or the redialled connection reached another; of the {Held} request(s) it held, those that may have run and are not idempotent fail as outcome unknown, the rest are sent again; its connection takes no new requests and closes once it holds none")]
    public static partial void PeerRestarted(ILogger logger, string endpoint, int held);

    [LoggerMessage(8, LogLevel.Warning, "A metrics or trace listener threw while the client recorded a request to '{Service}'; the request goes on as if it had not")]
    public static partial void ListenerThrew(ILogger logger, string service, Exception exception);
}
