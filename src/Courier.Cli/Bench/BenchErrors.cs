using System.Globalization;
using Courier.Client;

namespace Courier.Cli.Bench;

/// <summary>
/// What the failed requests of a bench were: status codes the peer answered with, timeouts, anything else. A run
/// where every request came back 500 is a broken handler, not an absent server, and the exit code and message say so.
/// </summary>
internal sealed class BenchErrors
{
    /// <summary>Status code, or the exception type for errors without one, with a count and the first message seen.</summary>
    private readonly SortedDictionary<string, (long Count, string Sample)> _kinds = new(StringComparer.Ordinal);

    private const string TimeoutKind = "timeout";

    private const string UnreachableKind = "unreachable";

    public long Count { get; private set; }

    /// <summary>Errors where the peer answered with an error status (exit 4 when nothing succeeded).</summary>
    public long Remote { get; private set; }

    /// <summary>Errors where nothing answered: timeouts and endpoints that could not be connected (exit 3).</summary>
    public long NoAnswer => _kinds.GetValueOrDefault(TimeoutKind).Count + _kinds.GetValueOrDefault(UnreachableKind).Count;

    public void Add(CourierException error)
    {
        var kind = error switch
        {
            CourierRemoteException remote => remote.StatusCode.ToString(CultureInfo.InvariantCulture),
            CourierTimeoutException => TimeoutKind,
            CourierUnreachableException => UnreachableKind,
            _ => error.GetType().Name,
        };
        // The first of each kind is kept to be printed for a person: a peer's words shown safe (no escape sequence
        // reaches the terminal) and short.
        _kinds[kind] = _kinds.TryGetValue(kind, out var seen)
            ? (seen.Count + 1, seen.Sample)
            : (1, Courier.Internal.LogText.Line(error is CourierRemoteException r ? r.RemoteMessage : error.Message));
        Count++;
        if (error is CourierRemoteException)
        {
            Remote++;
        }
    }

    public void AddRange(BenchErrors other)
    {
        foreach (var (kind, (count, sample)) in other._kinds)
        {
            var (mine, first) = _kinds.GetValueOrDefault(kind, (0, sample));
            _kinds[kind] = (mine + count, first);
        }

        Count += other.Count;
        Remote += other.Remote;
    }

    /// <summary>E.g. <c>2,000 answered 500 ("handler failed"), 3 timed out</c>; error statuses first.</summary>
    public string Describe() => string.Join(", ", _kinds
        .OrderBy(k => k.Key is TimeoutKind or UnreachableKind ? 1 : 0)
        .Select(k => k.Key switch
        {
            TimeoutKind => string.Create(CultureInfo.InvariantCulture, $"{k.Value.Count:N0} timed out"),
            UnreachableKind => string.Create(CultureInfo.InvariantCulture, $"{k.Value.Count:N0} unreachable (\"{k.Value.Sample}\")"),
            _ when char.IsAsciiDigit(k.Key[0]) => string.Create(CultureInfo.InvariantCulture, $"{k.Value.Count:N0} answered {k.Key} (\"{k.Value.Sample}\")"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{k.Value.Count:N0} {k.Key} (\"{k.Value.Sample}\")"),
        }));
}
