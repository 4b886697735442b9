namespace Courier.Serving.Internal;

/// <summary>The bounds of at-most-once's memory of answered requests (docs/protocol.md §8), on servers and brokers alike.</summary>
internal static class AtMostOnce
{
    /// <summary>How long an answered request's reply is remembered for a repeated attempt: 60 s.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    /// <summary>How many answered requests' replies are remembered at most (the oldest go first): 100,000.</summary>
    public const int Capacity = 100_000;
}
