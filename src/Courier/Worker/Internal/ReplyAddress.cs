namespace Courier.Worker.Internal;

/// <summary>Where a worker's reply goes: a Courier request's token, or a plain 7/MDP request's client address (echoed unchanged).</summary>
internal readonly record struct ReplyAddress(ulong Token, byte[]? PlainAddress);

/// <summary>A request being handled: its address, on the connection it came by (a reply for an older one is dropped).</summary>
internal readonly record struct WorkerJob(
    WorkerConnection Connection, ReplyAddress Address, WorkerService.Slot Slot, Serving.Internal.HandlerCall? Call = null, Transport.Internal.LentFrames Lent = default);
