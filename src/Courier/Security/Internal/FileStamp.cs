namespace Courier.Security.Internal;

/// <summary>What tells that a file the security reads has changed, so that it is read again.</summary>
internal static class FileStamp
{
    private const int MaxLinks = 40;

    /// <summary>
    /// The real file's path (every link on the way followed), time and size. A symbolic link's own time and size never
    /// change when what it leads to does: a Kubernetes ConfigMap or Secret mount is <c>NAME -&gt; ..data/NAME</c>, and
    /// an update points <c>..data</c> at a new directory, whose file may even have the old one's time and size.
    /// </summary>
    public static string Of(FileInfo file)
    {
        try
        {
            var real = new FileInfo(Resolve(file.FullName, 0));
            return real.Exists ? $"{real.FullName}\t{real.LastWriteTimeUtc.Ticks}\t{real.Length}" : $"{real.FullName}\t(missing)";
        }
        catch (IOException ex)
        {
            // A link that loops, or a file gone meanwhile: a stamp of its own, so that it is read (and refused) again.
            return $"(unresolved: {ex.Message})";
        }
    }

    // As realpath(3): a link in any directory on the way counts too (..data is one), not only the file's own.
    private static string Resolve(string path, int links)
    {
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full);
        if (parent is null)
        {
            return full;
        }

        var real = Path.Combine(Resolve(parent, links), Path.GetFileName(full));
        if (new FileInfo(real).LinkTarget is not { } target)
        {
            return real;
        }

        return links < MaxLinks
            ? Resolve(Path.Combine(Path.GetDirectoryName(real)!, target), links + 1)
            : throw new IOException($"{path}: more than {MaxLinks} links on the way");
    }
}
