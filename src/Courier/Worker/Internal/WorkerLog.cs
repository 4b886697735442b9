using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// The worker's log lines. Losing the broker and registering again is routine (a broker restart, a broker that expired
/// this worker): Information. A broker out of reach for long, and messages no broker should send, are warnings.
/// </summary>
internal static partial class WorkerLog
{
    [LoggerMessage(1, LogLevel.Information, "Worker {Name} registering for {Service} at {Endpoint} as {Protocol} (capacity {Capacity})")]
    public static partial void Registering(ILogger logger, string name, string service, string endpoint, string protocol, int capacity);

    /// <summary>Information when routine (a lost broker); a Warning when the endpoint itself is refused.</summary>
    [LoggerMessage(EventId = 2, Message = "Worker {Name} lost the broker at {Endpoint} ({Reason}); reconnecting in {Delay}")]
    public static partial void Reconnecting(ILogger logger, LogLevel level, string name, string endpoint, string reason, TimeSpan delay);

    [LoggerMessage(4, LogLevel.Warning, "Worker {Name} ignored an unexpected message of {FrameCount} frame(s): {Reason}")]
    public static partial void Unexpected(ILogger logger, string name, int frameCount, string reason);

    [LoggerMessage(6, LogLevel.Warning, "Worker {Name} was sent more requests of {Service} than its concurrency of {Concurrency} and prefetch of {Prefetch}; answered {Status}")]
    public static partial void OverCapacity(ILogger logger, string name, string service, int concurrency, int prefetch, int status);

    [LoggerMessage(7, LogLevel.Warning, "Worker {Name} holds {Held} reply(ies) the broker has not read yet ({Refused} just refused: TransportOptions.SendHighWatermark); they are sent again at the end of each turn")]
    public static partial void RepliesHeld(ILogger logger, string name, int held, int refused);

    [LoggerMessage(8, LogLevel.Warning, "Worker {Name} lost {Count} reply(ies) it still held when its connection to the broker ended; the broker gives their requests to another worker or answers them 520")]
    public static partial void RepliesDropped(ILogger logger, string name, int count);

    [LoggerMessage(5, LogLevel.Warning, "Worker {Name} still cannot reach the broker at {Endpoint} ({Reason}); retrying at its longest backoff")]
    public static partial void StillUnreachable(ILogger logger, string name, string endpoint, string reason);
}
