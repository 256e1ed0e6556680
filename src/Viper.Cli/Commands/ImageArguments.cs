using Viper.Cli.Terminal;
using Viper.Imaging;

namespace Viper.Cli.Commands;

/// <summary>An image a command line names, read and decoded before any model loads; problems are named with the option.</summary>
internal static class ImageArguments
{
    public static RgbImage Read(FileInfo file, string option)
    {
        if (!file.Exists)
        {
            throw new UsageException($"{option} {file.FullName}: the file does not exist");
        }

        try
        {
            return ImageFile.Load(file.FullName);
        }
        catch (ImageFormatException e)
        {
            throw new ImageFormatException($"{option} {file.Name}: {e.Message}", e);
        }
    }
}
