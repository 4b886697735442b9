namespace Courier.Serving.Internal;

/// <summary>The bounds of at-most-once's memory of answered requests (docs/protocol.md §8), on servers and brokers alike.</summary>
internal static class AtMostOnce
{
    /// <summary>How long an answered request's reply is remembered for a repeated attempt: 60 s.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    /// <summary>How many answered requests' replies are remembered at most (the oldest go first): 100,000.</summary>
    public const int Capacity = 100_000;

    /// <summary>
    /// How many bytes of remembered reply bodies and headers are kept at most: 64 MiB. Past it the bodies of the client
    /// holding the most go first, then the oldest of all; their entries stay: a repeat is answered 520 instead of
    /// running again.
    /// </summary>
    public const long MaxBytes = 64L << 20;
}
