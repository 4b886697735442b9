using Microsoft.Extensions.Logging;

namespace Courier.Extensions.Hosting.Internal;

internal static partial class HostLog
{
    [LoggerMessage(901, LogLevel.Information, "Courier {Part} {Name} started")]
    public static partial void Started(ILogger logger, string part, string name);

    [LoggerMessage(902, LogLevel.Information, "Courier {Part} {Name} stopped")]
    public static partial void Stopped(ILogger logger, string part, string name);

    [LoggerMessage(903, LogLevel.Warning, "Courier {Part} {Name}: the host's shutdown timeout ended the drain; handlers still running were cancelled")]
    public static partial void ShutdownTimeout(ILogger logger, string part, string name);
}
