using Courier.Protocol;

namespace Courier.Serving.Internal;

/// <summary>
/// What a handler's run came to: the status to answer with, the body (or the error message as one frame), the encoded
/// headers the handler set on its reply (empty for none), and whether the handler never started (a request whose token
/// fired while it waited for a free handler), so that nothing of it need be remembered.
/// </summary>
internal readonly record struct HandlerOutcome(int Status, IReadOnlyList<ReadOnlyMemory<byte>> Body, byte[]? Headers = null, bool NeverRan = false)
{
    /// <summary>
    /// The answer for a service that is <paramref name="idempotent"/>: a handler cancelled by its owner's stop (520, it
    /// may have had effects) becomes 503, which the client retries elsewhere; running such a request again is harmless.
    /// </summary>
    public HandlerOutcome For(bool idempotent)
        => idempotent && Status == CourierStatus.OutcomeUnknown ? this with { Status = CourierStatus.Unavailable } : this;
}
