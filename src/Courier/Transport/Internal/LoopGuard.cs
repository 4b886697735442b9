using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal;

/// <summary>
/// Keeps a loop thread alive whatever the code it runs throws: an exception that escaped a loop thread would end the
/// process. What a role can attribute to a request it fails itself; whatever still reaches here is logged and the loop
/// goes on with its next piece of work. Loop thread only.
/// </summary>
internal static partial class LoopGuard
{
    public static void Run(Action work, ILogger logger, string loop)
    {
        try
        {
            work();
        }
#pragma warning disable CA1031 // Nothing may escape a loop thread: the process serves everyone else.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Report(ex, logger, loop);
        }
    }

    public static void Report(Exception exception, ILogger logger, string loop)
    {
        try
        {
            Failed(logger, exception, loop);
        }
#pragma warning disable CA1031 // A logger that throws must not take the loop down either.
        catch
#pragma warning restore CA1031
        {
        }
    }

    [LoggerMessage(201, LogLevel.Error, "Loop {Loop}: a piece of work failed; the loop goes on")]
    private static partial void Failed(ILogger logger, Exception exception, string loop);
}
