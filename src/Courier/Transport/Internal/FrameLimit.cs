using Courier.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal;

/// <summary>
/// A socket's bound on the frames of a message it receives (<see cref="TransportOptions.MaxFramesPerMessage"/>), the same
/// on both transports: a longer message is read off the socket and dropped whole, nothing of it kept past the limit, and
/// the drop counted and logged at a bounded rate. Loop thread only.
/// </summary>
internal sealed partial class FrameLimit(TransportOptions options, ILogger logger)
{
    private ViolationLog? _violations;

    /// <summary>The most frames a message may have.</summary>
    public int Max { get; } = options.MaxFramesPerMessage;

    /// <summary>Whether a message with <paramref name="received"/> frames so far and more to come is past the limit.</summary>
    public bool Exceeded(int received) => received >= Max;

    /// <summary>A message of <paramref name="frames"/> frames was dropped by a socket of <paramref name="role"/>.</summary>
    public void Dropped(int frames, string role)
    {
        // Made at the first drop: most sockets never see one.
        _violations ??= new ViolationLog(logger, "Socket", role, options, TimeProvider.System);
        if (_violations.Admit(ViolationKind.TooManyFrames))
        {
            Log(logger, frames, Max);
        }
    }

    [LoggerMessage(214, LogLevel.Warning, "Dropped a message of {Frames} frames, more than the {Max} a message may have (TransportOptions.MaxFramesPerMessage)")]
    private static partial void Log(ILogger logger, int frames, int max);
}
