using Microsoft.Extensions.Logging;

namespace Courier.Serving.Internal;

internal static partial class RunnerLog
{
    [LoggerMessage(111, LogLevel.Error, "Handler for {Service} failed; error id {ErrorId}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string service, string errorId);
}
