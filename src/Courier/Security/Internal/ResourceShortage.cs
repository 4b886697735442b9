namespace Courier.Security.Internal;

/// <summary>
/// Errors that say the process is short of descriptors or memory, not that a file or directory is wrong: .NET raises an
/// <see cref="IOException"/> whose HResult is the errno (EMFILE 24, ENFILE 23, ENOMEM 12, ENOBUFS 105 on Linux). A
/// check that meets one keeps what it last read: at the descriptor limit an allow-list that read as empty cut every
/// registered worker.
/// </summary>
internal static class ResourceShortage
{
    public static bool Is(Exception ex)
        => ex is OutOfMemoryException || (ex is IOException && ex.HResult is 24 or 23 or 12 or 105);
}
