/** `import css from './styles.css?inline'`: Vite gives the stylesheet's (minified) text. */
declare module '*.css?inline' {
  const text: string;
  export default text;
}
