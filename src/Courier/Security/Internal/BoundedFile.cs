using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Courier.Security.Internal;

/// <summary>
/// Reads a security file an operator points at (a certificate, a policy) no further than it can be: refused unread
/// when it is empty (a named pipe or a device shows as empty too: reading one could block the reader, a broker's loop,
/// for good, or never end) or longer than <c>maxBytes</c>; read no further than that however it grows meanwhile. What is
/// judged is what was opened: the path is opened first, without waiting (a named pipe opens at once and is never read),
/// and the size is the open file's. A check of the path then an open of the path let a pipe swapped in between block
/// the reader until something wrote to it.
/// </summary>
internal static partial class BoundedFile
{
    /// <summary>The text of <paramref name="path"/>; <paramref name="description"/> ends the refusal, "not a certificate (…)".</summary>
    public static string ReadText(string path, int maxBytes, string description)
    {
        using var stream = Open(path);
        var length = stream is { CanSeek: true } ? stream.Length : 0;
        if (length is 0 || length > maxBytes)
        {
            throw new InvalidDataException($"{path}: {length} bytes: not {description}");
        }

        // As long as the file said it was (UTF-8 has no more characters than bytes), and one more: a file that grew
        // meanwhile is refused, and read again at the next check (its stamp changed).
        using var reader = new StreamReader(stream!);
        var buffer = new char[length + 1];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return read < buffer.Length
            ? new string(buffer, 0, read)
            : throw new InvalidDataException($"{path}: grew while it was read");
    }

    /// <summary>The file opened for reading; null where it was judged empty before it was opened.</summary>
    private static FileStream? Open(string path)
    {
        // The flags below are Linux's (x64 and arm64 alike). Elsewhere the path's size is checked before it is opened,
        // as before (a pipe shows as empty, and opening one would wait for a writer); the race stays there.
        if (!OperatingSystem.IsLinux())
        {
            var file = new FileInfo(path);
            return (file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? file).Length is 0
                ? null
                : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        }

        // No controlling terminal taken from a terminal's path: a daemon without one would make it its own.
        var fd = open(path, ReadOnly | NonBlocking | CloseOnExec | NoControllingTerminal);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var message = $"{path}: {Marshal.GetPInvokeErrorMessage(errno)}";
            throw errno switch
            {
                2 => new FileNotFoundException(message, path), // ENOENT
                20 => new DirectoryNotFoundException(message), // ENOTDIR
                1 or 13 => new UnauthorizedAccessException(message), // EPERM, EACCES
                _ => new IOException(message, errno), // the errno as HResult, as .NET's own (ResourceShortage reads it)
            };
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // open(2) takes a directory for reading; a path that names one is no file (as when .NET opens it by path).
            if ((File.GetAttributes(handle) & FileAttributes.Directory) != 0)
            {
                throw new FileNotFoundException($"{path}: a directory, not a file", path);
            }

            return new FileStream(handle, FileAccess.Read, bufferSize: 1);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private const int ReadOnly = 0;
    private const int NonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const int NoControllingTerminal = 0x100;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}
