using Courier.Internal;
using Courier.Protocol;

namespace Courier.Client;

/// <summary>
/// What one request carries beyond its service and body (courier/5, docs/protocol.md §8): headers, whether it may run
/// more than once, its own deadline. Start from <see cref="Default"/> and change what you need with <c>with</c>. A
/// peer from before courier/5 (or a stock 7/MDP one) gets the request without them.
/// </summary>
public sealed record CourierRequestOptions
{
    /// <summary>No headers, not idempotent, the client's own deadline.</summary>
    public static CourierRequestOptions Default { get; } = new();

    /// <summary>Headers sent with the request (bounded: <see cref="CourierHeaders.MaxCount"/>, <see cref="CourierHeaders.MaxSize"/>); null for none.</summary>
    public CourierHeaders? Headers { get; init; }

    /// <summary>
    /// False (the default): the request runs at most once; if the worker holding it dies or stalls, the caller gets
    /// <see cref="CourierOutcomeUnknownException"/>. True: it may run again, on another worker, and the caller sees no
    /// error for that (a service a worker or server declares idempotent is treated so whatever this says).
    /// </summary>
    public bool Idempotent { get; init; }

    /// <summary>Overall time limit of this request across all attempts, instead of <see cref="CourierClientOptions.Deadline"/>; null keeps the client's.</summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
        => OptionsGuard.Require(Deadline is null || Deadline > TimeSpan.Zero, nameof(CourierRequestOptions), nameof(Deadline), "must be positive when set");
}
