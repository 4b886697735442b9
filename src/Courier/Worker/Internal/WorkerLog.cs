using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

internal static partial class WorkerLog
{
    [LoggerMessage(1, LogLevel.Information, "Worker {Name} registering for {Service} at {Endpoint} as {Protocol} (capacity {Capacity})")]
    public static partial void Registering(ILogger logger, string name, string service, string endpoint, string protocol, int capacity);

    [LoggerMessage(2, LogLevel.Warning, "Worker {Name} lost the broker at {Endpoint} ({Reason}); reconnecting in {Delay}")]
    public static partial void Reconnecting(ILogger logger, string name, string endpoint, string reason, TimeSpan delay);

    [LoggerMessage(3, LogLevel.Error, "Handler for {Service} failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string service);

    [LoggerMessage(4, LogLevel.Warning, "Worker {Name} ignored an unexpected message of {FrameCount} frame(s): {Reason}")]
    public static partial void Unexpected(ILogger logger, string name, int frameCount, string reason);
}
