using System.Text;
using Microsoft.Extensions.Logging;

namespace Courier.Internal;

/// <summary>
/// Counts what hostile or broken peers make a process drop or refuse, and logs it at a bounded rate: the first
/// <see cref="Transport.TransportOptions.ViolationLogBurst"/> lines of each kind per
/// <see cref="Transport.TransportOptions.ViolationLogInterval"/>, then one summary line per interval with the counts of
/// what was not logged. A flood of junk so costs a few log lines, not one per message, and the counts stay exact.
/// Loop thread only.
/// </summary>
internal sealed partial class ViolationLog
{
    private readonly ILogger _logger;
    private readonly string _owner;
    private readonly int _burst;
    private readonly long _intervalTicks;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _clock;
    private readonly Dictionary<string, Counter> _kinds = new(StringComparer.Ordinal);
    private long _windowStart;

    private readonly string? _role;

    /// <summary>A log for <paramref name="owner"/>, whose counts also go to <c>courier.violations</c> under <paramref name="role"/>.</summary>
    public ViolationLog(ILogger logger, string owner, string role, Transport.TransportOptions options, TimeProvider clock)
        : this(logger, owner, role, options.ViolationLogBurst, options.ViolationLogInterval, clock)
    {
    }

    /// <summary>
    /// A log of <paramref name="burst"/> lines of each kind per <paramref name="interval"/>; with a null
    /// <paramref name="role"/> its kinds are ordinary events (a worker joining), not violations, and go to no metric.
    /// </summary>
    public ViolationLog(ILogger logger, string owner, string? role, int burst, TimeSpan interval, TimeProvider clock)
    {
        _role = role;
        _logger = logger;
        _owner = owner;
        _burst = burst;
        _interval = interval;
        _clock = clock;
        _intervalTicks = (long)(interval.TotalSeconds * clock.TimestampFrequency);
        _windowStart = clock.GetTimestamp();
    }

    /// <summary>The log of a listening socket's transport (its connection limit and handshake timeout), on either transport.</summary>
    public static ViolationLog ForListener(ILogger logger, Transport.TransportOptions options)
        => new(logger, "Listener", Diagnostics.Internal.TelemetryRole.Listener, options, TimeProvider.System);

    /// <summary>
    /// Counts <paramref name="count"/> of <paramref name="kind"/> (one event: a batch of replies dropped at once is one line);
    /// true when its own line may be logged (within this interval's burst).
    /// </summary>
    public bool Admit(string kind, int count = 1)
    {
        RollIfDue();
        if (!_kinds.TryGetValue(kind, out var counter))
        {
            counter = new Counter();
            _kinds.Add(kind, counter);
        }

        counter.Total += count;
        if (_role is not null)
        {
            Diagnostics.Internal.CourierMetrics.CountViolation(_role, kind, count);
        }

        if (counter.LoggedInWindow < _burst)
        {
            counter.LoggedInWindow++;
            return true;
        }

        counter.Suppressed += count;
        return false;
    }

    /// <summary>How many of <paramref name="kind"/> were counted since the start.</summary>
    public long Total(string kind) => _kinds.TryGetValue(kind, out var counter) ? counter.Total : 0;

    /// <summary>The loop's tick: an interval that ended with lines held back gets its summary now, not at the next violation.</summary>
    public void OnTick() => RollIfDue();

    private void RollIfDue()
    {
        var now = _clock.GetTimestamp();
        if (now - _windowStart < _intervalTicks)
        {
            return;
        }

        _windowStart = now;
        StringBuilder? summary = null;
        foreach (var (kind, counter) in _kinds)
        {
            if (counter.Suppressed > 0)
            {
                summary ??= new StringBuilder();
                summary.Append(summary.Length > 0 ? ", " : "").Append(kind).Append(": ").Append(counter.Suppressed)
                    .Append(" (").Append(counter.Total).Append(" in all)");
            }

            counter.Suppressed = 0;
            counter.LoggedInWindow = 0;
        }

        if (summary is not null)
        {
            Suppressed(_logger, _owner, _interval, summary.ToString());
        }
    }

    [LoggerMessage(901, LogLevel.Warning, "{Owner}: not logged in the last {Interval}: {Counts}")]
    private static partial void Suppressed(ILogger logger, string owner, TimeSpan interval, string counts);

    private sealed class Counter
    {
        public long Total;
        public int LoggedInWindow;
        public long Suppressed;
    }
}

/// <summary>The kinds a <see cref="ViolationLog"/> counts, as they appear in its summaries.</summary>
internal static class ViolationKind
{
    public const string DroppedMessage = "dropped messages";
    public const string RejectedRequest = "rejected requests";
    public const string DroppedReply = "dropped replies";
    public const string HeldReply = "replies held for a broker that does not read";
    public const string UnreadReplies = "replies dropped for a client that does not read";
    public const string UnexpectedMessage = "unexpected messages";
    public const string ProtocolViolation = "protocol violations";
    public const string UnregisteredWorker = "messages from unregistered workers";
    public const string ServeForbidden = "READYs for services the worker may not serve";
    public const string OverCapacity = "requests over the worker's concurrency";
    public const string ConnectionLimit = "connection limit reached";
    public const string HandshakeTimeout = "connections closed before their handshake";
    public const string UnfinishedMessage = "connections closed holding an unfinished message";
    public const string TooManyFrames = "messages of too many frames";
}
