namespace Courier.Internal;

/// <summary>
/// What a frame held in managed memory costs beyond its bytes, roughly: its array's header and a reference to it (or a
/// <see cref="ReadOnlyMemory{T}"/>). Bounds counted in bytes add it per frame, so that a message of many empty frames
/// counts for what it holds, not for its bytes (next to nothing).
/// </summary>
internal static class FrameCost
{
    public const int Managed = 40;
}
